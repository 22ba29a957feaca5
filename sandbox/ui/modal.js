/* The person's open modal: the top of their view stack, its form, submission and close, the
 * errors the bot (or the Slack client) puts under fields, and values kept across views.update.
 */
window.SandboxModal = (() => {
  "use strict";

  const {$, h, toast} = SandboxDom;
  const {plain} = SandboxMrkdwn;
  const {store, api, failure} = SandboxClient;
  const {renderBlocks, collectValues} = SandboxBlocks;

  function showErrors(form, errors) {
    for (const [blockId, slot] of form.errorSlots) {
      const message = errors[blockId];
      slot.error.hidden = !message;
      slot.error.textContent = message || "";
      slot.node.classList.toggle("has-error", Boolean(message));
    }
    const stray = Object.keys(errors).filter((b) => !form.errorSlots.has(b));
    if (stray.length) toast(`The bot named fields this view does not have: ${stray.join(", ")}`, "warn");
  }

  function renderModal(stack) {
    const layer = $("modal-layer");
    const view = stack[stack.length - 1];
    const key = view ? `${store.me}:${view.id}:${view.hash}:${stack.length}` : "";
    if (store.modal && store.modal.key === key) return;
    const previous = store.modal;
    const carried = previous && view && previous.viewId === view.id ? collectValues(previous.form) : null;
    store.modal = null;
    if (!view) { layer.replaceChildren(); return; }
    const form = {fields: new Map(), errorSlots: new Map()};
    const context = {kind: "view", viewId: view.id, form};
    const message = h("div", {class: "modal-error", "data-testid": "modal-error", hidden: true});
    const close = async () => { await api("view/close", {user: store.me, view_id: view.id}); };
    const submit = async (e) => {
      const button = e.currentTarget;
      button.disabled = true;
      try {
        const data = await api("view/submit", {user: store.me, view_id: view.id, values: collectValues(form)});
        if (data && data.errors) showErrors(form, data.errors);
        message.hidden = !(data && !data.ok && !data.errors);
        message.textContent = data && !data.ok && !data.errors ? failure(data) : "";
      } finally {
        button.disabled = false;
      }
    };
    const body = h("div", {class: "modal-body"}, renderBlocks(view.blocks || [], context));
    const node = h("div", {class: "backdrop"},
      h("div", {class: "modal", role: "dialog", "aria-modal": "true", "data-testid": "modal", "data-view-id": view.id,
        "data-callback-id": view.callback_id || null},
      h("div", {class: "modal-header"},
        stack.length > 1 ? h("button", {type: "button", class: "icon-button", title: "Back", onclick: close}, "‹") : null,
        h("h2", {}, plain(view.title)),
        h("button", {type: "button", class: "icon-button", "aria-label": "Close", "data-testid": "modal-x", onclick: close}, "×")),
      body, message,
      h("div", {class: "modal-footer"},
        h("button", {type: "button", class: "btn", "data-testid": "modal-close", onclick: close}, plain(view.close) || "Cancel"),
        view.submit ? h("button", {type: "button", class: "btn primary", "data-testid": "modal-submit", onclick: submit}, plain(view.submit)) : null)));
    layer.replaceChildren(node);
    if (carried) restoreValues(form, carried);
    store.modal = {key, viewId: view.id, form};
  }

  // After views.update, what the person typed stays in fields whose block and action ids
  // did not change (as in Slack).
  function restoreValues(form, values) {
    for (const {blockId, actionId} of form.fields.values()) {
      const value = values[blockId] && values[blockId][actionId];
      if (value === undefined || value === null) continue;
      const el = document.querySelector(`#modal-layer [data-block-id="${CSS.escape(blockId)}"][data-action-id="${CSS.escape(actionId)}"]`);
      if (!el) continue;
      if (el.tagName === "FIELDSET") {
        const wanted = new Set(Array.isArray(value) ? value : [value]);
        el.querySelectorAll("input").forEach((i) => { i.checked = wanted.has(i.value); });
      } else if (el.tagName === "SELECT" && el.multiple) {
        [...el.options].forEach((o) => { o.selected = value.includes(o.value); });
      } else if ("value" in el) {
        el.value = value;
      }
    }
  }

  return {renderModal};
})();
