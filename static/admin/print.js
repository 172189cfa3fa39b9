// The promo card's print button (no inline handlers: the console's CSP allows scripts from this site only).
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) window.print();
});
