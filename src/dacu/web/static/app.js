// dacu web: light JavaScript only. Adds the session's CSRF token to fetch() calls made by pages.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  window.dacu = {
    csrf: meta ? meta.getAttribute("content") : "",
    post: function (url, body) {
      return fetch(url, {method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": window.dacu.csrf},
        body: JSON.stringify(body || {})});
    }
  };
})();
