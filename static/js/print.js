// Progressive enhancement: a "Print" button appears only where JavaScript runs.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
});
