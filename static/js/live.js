/* A page showing a patient learns that the patient's data or assessment changed since it was
 * drawn (templates/patients/_live.html polls for it) and shows a banner; once the new result is
 * stored it reloads itself, unless something is being typed on the page (a decision, say):
 * then the banner stays and the reader reloads when ready. */
(function () {
  "use strict";
  let typing = false;
  document.addEventListener("input", (event) => {
    if (event.target.closest && event.target.closest("form")) typing = true;
  });
  document.addEventListener("htmx:afterSettle", () => {
    const live = document.getElementById("live");
    if (live && live.dataset.fresh === "true" && live.querySelector(".live-banner") && !typing) {
      window.location.reload();
    }
  });
})();
