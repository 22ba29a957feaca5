/* Images in messages open larger: a click on a file's image or an image block shows it at full
 * size over the page, as Slack does. Escape, or a click anywhere on it, closes it.
 *
 * Self-contained: it listens on the document (messages are re-rendered on every poll), so the
 * rest of the page needs no hook. Ctrl/Cmd/Shift-click keep the link's own behaviour.
 */
window.SandboxLightbox = (() => {
  "use strict";

  const { h } = window.SandboxDom;
  const OPENS = ".file-image img, .block-image img";
  let open = null;

  function show(image) {
    close();
    const caption = image.closest("figure")?.querySelector("figcaption")?.textContent || image.alt || "";
    const original = image.closest("a")?.getAttribute("href") || image.getAttribute("src");
    open = h("div", {class: "lightbox", "data-testid": "lightbox", role: "dialog", "aria-modal": "true",
                     "aria-label": caption || "Image", tabindex: "-1", onclick: close},
      h("img", {class: "lightbox-image", "data-testid": "lightbox-image", src: image.getAttribute("src"),
                alt: image.alt || ""}),
      h("div", {class: "lightbox-caption"}, caption,
        // The original in a tab of its own; a click on the link must not also close the view.
        h("a", {href: original, target: "_blank", rel: "noopener", onclick: (e) => e.stopPropagation()},
          "Open original"),
        h("span", {class: "lightbox-hint"}, "Esc or click to close")));
    document.body.append(open);
    open.focus();
  }

  function close() {
    if (!open) return;
    open.remove();
    open = null;
  }

  document.addEventListener("click", (e) => {
    const image = e.target instanceof Element ? e.target.closest(OPENS) : null;
    if (!image || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey) return;
    e.preventDefault();
    show(image);
  });
  document.addEventListener("keydown", (e) => {
    if (open && e.key === "Escape") {
      e.stopPropagation();
      close();
    }
  }, true);

  return { show, close };
})();
