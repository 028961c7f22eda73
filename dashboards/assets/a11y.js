/* Screen readers: name every Dash dropdown after its <label for=...>.
 *
 * Dash 4's dropdown button points aria-labelledby at its own value only, which overrides
 * the page's <label for="id">, so a screen reader announced "臺北市" instead of
 * "地區 臺北市". This puts the label first in aria-labelledby, and again whenever Dash
 * re-renders the button (a MutationObserver; nothing leaves the page).
 */
(function () {
  "use strict";

  function nameDropdowns(root) {
    root.querySelectorAll(".dash-dropdown[id][aria-labelledby]").forEach(function (button) {
      var label = document.querySelector('label[for="' + CSS.escape(button.id) + '"]');
      if (!label) {
        return;
      }
      if (!label.id) {
        label.id = button.id + "--label";
      }
      var ids = button.getAttribute("aria-labelledby").split(/\s+/);
      if (ids[0] !== label.id) {
        button.setAttribute("aria-labelledby",
          [label.id].concat(ids.filter(function (id) { return id && id !== label.id; })).join(" "));
      }
    });
  }

  function start() {
    nameDropdowns(document);
    new MutationObserver(function () { nameDropdowns(document); }).observe(document.body, {
      subtree: true, childList: true, attributes: true, attributeFilter: ["aria-labelledby"]
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
