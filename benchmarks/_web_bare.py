"""The peer of `dacu bench web`: a bare FastAPI app whose one endpoint returns a constant."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/constant")
async def constant() -> dict:
    return {"ok": True}
