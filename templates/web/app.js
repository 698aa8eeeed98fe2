// helpdesk web channel: the feed's live updates over server-sent events, and Slack's confirmation
// dialogs for buttons. No framework and no inline script (the pages' CSP allows only this file);
// without it every page still works, minus live updates.
(function () {
  "use strict";

  // A button Slack would confirm asks here too (data-confirm holds the dialog's text).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  var feed = document.getElementById("feed");
  if (!feed || !window.EventSource || !window.fetch) return;

  var body = document.body;
  var loading = false;
  var again = false;
  var seen = null;

  // Replaces the feed with the server's current one; one request at a time, the last change not lost.
  function refresh() {
    if (loading) { again = true; return; }
    loading = true;
    fetch("/web/feed", { credentials: "same-origin", cache: "no-store", headers: { "Accept": "text/html" } })
      .then(function (response) {
        // Signed out meanwhile: the page itself goes to the sign-in page.
        if (response.redirected || response.status === 401 || response.status === 403) {
          window.location.reload();
          return null;
        }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html !== null) feed.innerHTML = html;
      })
      .catch(function () { body.dataset.live = "off"; })
      .then(function () {
        loading = false;
        if (again) { again = false; refresh(); }
      });
  }

  // `resumed`: a stream after a refused one, so its opening catches up too.
  function connect(resumed) {
    var source = new EventSource("/web/events");
    var dropped = resumed === true;
    source.addEventListener("open", function () {
      body.dataset.live = "on";
      // Back after a drop: what was posted meanwhile came with no event.
      if (dropped) refresh();
    });
    source.addEventListener("feed", function (event) {
      if (event.data === seen) return;
      seen = event.data;
      refresh();
    });
    source.addEventListener("error", function () {
      body.dataset.live = "off";
      dropped = true;
      // The browser retries by itself unless the server refused the stream (signed out, too many streams).
      if (source.readyState === EventSource.CLOSED) {
        refresh();
        window.setTimeout(function () { connect(true); }, 5000);
      }
    });
  }

  connect(false);
})();
