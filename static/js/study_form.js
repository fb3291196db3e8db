// The study form: planar scintigraphy has no SUV, so its reference uptake (blood pool, liver,
// liver SD, spleen) is switched off while the modality is planar, with a note saying why. What
// was typed stays in the boxes (switched-off boxes keep their values and are not sent), so
// choosing planar by mistake and then the right modality loses nothing. Without scripts, the
// server refuses reference SUVs on a planar study, naming each field.
(function () {
  "use strict";
  var modality = document.getElementById("id_modality");
  var references = document.getElementById("reference-uptake");
  var note = document.getElementById("reference-planar-note");
  if (!modality || !references || !note) return;

  function update() {
    var planar = modality.value === "planar";
    references.disabled = planar;
    note.hidden = !planar;
  }

  modality.addEventListener("change", update);
  update();
})();
