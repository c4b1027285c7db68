// Deck: auto-refresh of the job list. Re-fetches the same URL (so filters and page stay) and
// swaps only the table body and summary, so the scroll position is untouched.
(function () {
  var box = document.getElementById("autorefresh");
  var body = document.getElementById("jobs");
  if (!box || !body) return;
  var seconds = parseInt(box.getAttribute("data-seconds"), 10) || 30;
  function refresh() {
    if (!box.checked || document.hidden) return;
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("jobs");
        if (fresh) body.replaceChildren.apply(body, Array.from(fresh.childNodes));
      })
      .catch(function () {});
  }
  setInterval(refresh, seconds * 1000);
})();

// Search boxes: an input with data-filter="<selector>" hides the matching elements whose text
// does not contain what is typed (case-insensitive); the page works without it.
(function () {
  document.querySelectorAll("input[data-filter]").forEach(function (input) {
    var selector = input.getAttribute("data-filter");
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      document.querySelectorAll(selector).forEach(function (el) {
        el.hidden = needle !== "" && el.textContent.toLowerCase().indexOf(needle) < 0;
      });
    });
  });
})();
