// The SR import page: files larger in all than the server accepts are refused here, before
// the upload, with the page and the choice kept (the server would answer 413 alone).
(function () {
  "use strict";
  var form = document.getElementById("sr-upload");
  if (!form) return;
  var input = document.getElementById("sr-files");
  var error = document.getElementById("sr-files-error");
  var limit = parseInt(form.getAttribute("data-max-bytes"), 10);
  form.addEventListener("submit", function (event) {
    var total = 0;
    for (var i = 0; i < input.files.length; i++) total += input.files[i].size;
    if (limit && total > limit) {
      event.preventDefault();
      error.textContent = "These files are " + Math.ceil(total / 1024) + " KiB in all; the server accepts at most " +
        Math.floor(limit / 1024) + " KiB per import (NETBOARD_MAX_BODY_BYTES). Choose fewer files.";
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  });
})();
