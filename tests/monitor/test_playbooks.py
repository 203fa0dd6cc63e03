"""Every alert kind has a playbook of its own: the fallback (GMV behind plan) is for kinds the
monitor does not know, never for one it lists."""

from __future__ import annotations

from dacu.monitor.playbooks import KINDS, Context, playbook


def test_every_kind_has_its_own_playbook() -> None:
    for kind in KINDS:
        found = playbook(kind, Context())
        assert found.kind == kind and found.actions, kind


def test_an_unknown_kind_gets_the_gmv_playbook() -> None:
    assert playbook("no_such_kind").kind == "gmv_behind_plan"
