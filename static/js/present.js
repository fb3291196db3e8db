/* NETboard presentation mode: keyboard navigation between the cases of a meeting.
 *
 *   ArrowRight, PageDown, n   next case
 *   ArrowLeft, PageUp, p      previous case
 *   Escape                    back to the agenda (in a form field: leave the field first)
 *   d                         focus the decision form
 *
 * Keys typed into a form field are never taken. Leaving the page with text typed in the
 * decision form asks first, so a keystroke cannot lose a rationale. Elements with a
 * data-print attribute print the page (the case summary). No framework, no external assets.
 */
(function () {
  "use strict";

  function byId(id) { return document.getElementById(id); }

  function isTyping(target) {
    if (!target || !target.tagName) { return false; }
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function formIsDirty() {
    var form = byId("decision-form");
    if (!form) { return false; }
    var fields = form.querySelectorAll("textarea, input[type=text], select");
    for (var i = 0; i < fields.length; i += 1) {
      var field = fields[i];
      if (field.tagName.toLowerCase() === "select") {
        var initial = -1;
        for (var j = 0; j < field.options.length; j += 1) {
          if (field.options[j].defaultSelected) { initial = j; }
        }
        if (field.selectedIndex !== initial && !(initial === -1 && field.selectedIndex === 0)) { return true; }
      } else if (field.value !== field.defaultValue) {
        return true;
      }
    }
    return false;
  }

  function go(link) {
    if (!link || !link.href) { return; }
    if (formIsDirty() && !window.confirm("Leave this case? What you typed in the decision form is not saved.")) {
      return;
    }
    window.location.href = link.href;
  }

  function focusDecision() {
    var form = byId("decision-form");
    var target = form ? form.querySelector("select, textarea, input:not([type=hidden])") : byId("decision");
    if (!target) { return; }
    if (!form) { target.setAttribute("tabindex", "-1"); }
    target.scrollIntoView({ block: "center" });
    target.focus();
  }

  function onKey(event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) { return; }
    if (isTyping(event.target)) {
      if (event.key === "Escape") { event.target.blur(); event.preventDefault(); }
      return;
    }
    switch (event.key) {
      case "ArrowRight": case "PageDown": case "n": case "N":
        if (byId("present-next")) { event.preventDefault(); go(byId("present-next")); }
        break;
      case "ArrowLeft": case "PageUp": case "p": case "P":
        if (byId("present-prev")) { event.preventDefault(); go(byId("present-prev")); }
        break;
      case "Escape":
        event.preventDefault();
        go(byId("present-agenda"));
        break;
      case "d": case "D":
        event.preventDefault();
        focusDecision();
        break;
      default:
        break;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (byId("present-nav")) {
      document.addEventListener("keydown", onKey);
    }
    var printers = document.querySelectorAll("[data-print]");
    for (var i = 0; i < printers.length; i += 1) {
      printers[i].addEventListener("click", function () { window.print(); });
    }
  });
}());
