/* Block Kit rendering: blocks and interactive elements for messages and modals, what using an
 * element sends (block_actions), the values a modal form collects, and Slack's confirm dialog.
 *
 * Blocks and elements without ids get positional ones (b3, a0), as sandbox/web_forms.py
 * derives them, so both sides name one element alike.
 */
window.SandboxBlocks = (() => {
  "use strict";

  const {h, safeUrl, popover} = SandboxDom;
  const {emojify, plain, textObject, EMOJI} = SandboxMrkdwn;
  const {store, api, userName} = SandboxClient;

  // Slack's confirmation dialog for elements with a "confirm" object.
  function confirmDialog(confirm) {
    return new Promise((resolve) => {
      const done = (answer) => { layer.remove(); resolve(answer); };
      const layer = h("div", {class: "backdrop"},
        h("div", {class: "modal confirm", role: "dialog", "data-testid": "confirm-dialog"},
          h("div", {class: "modal-header"}, h("h2", {}, plain(confirm.title) || "Are you sure?")),
          h("div", {class: "modal-body"}, textObject(confirm.text)),
          h("div", {class: "modal-footer"},
            h("button", {type: "button", class: "btn", "data-testid": "confirm-deny", onclick: () => done(false)}, plain(confirm.deny) || "Cancel"),
            h("button", {type: "button", class: `btn ${confirm.style === "danger" ? "danger" : "primary"}`,
              "data-testid": "confirm-ok", onclick: () => done(true)}, plain(confirm.confirm) || "Yes"))));
      document.body.append(layer);
    });
  }

  const blockIdOf = (block, index) => (typeof block.block_id === "string" && block.block_id) || `b${index}`;
  const actionIdOf = (element, position) => (typeof element.action_id === "string" && element.action_id) || `a${position}`;

  function optionsOf(element) {
    const options = [...(element.options || [])];
    for (const group of element.option_groups || []) options.push(...(group.options || []));
    return options;
  }

  // context: {kind: "message", channel, ts} or {kind: "view", viewId, form} where form collects
  // the modal's field values (and error slots) for a submission.
  function renderBlocks(blocks, context) {
    return h("div", {class: "blocks"}, blocks.map((block, index) => renderBlock(block, blockIdOf(block, index), context)));
  }

  function renderBlock(block, blockId, context) {
    const wrap = (kind, ...children) => h("div", {class: `block block-${kind}`, "data-block-id": blockId}, children);
    switch (block.type) {
      case "header":
        return wrap("header", plain(block.text) ? emojify(plain(block.text)) : "");
      case "section": {
        const main = h("div", {class: "section-main"}, block.text ? textObject(block.text) : null,
          block.fields ? h("div", {class: "fields"}, block.fields.map(textObject)) : null);
        const accessory = block.accessory ? renderElement(block.accessory, blockId, actionIdOf(block.accessory, 0), block, context) : null;
        return wrap("section", main, accessory);
      }
      case "context":
        return wrap("context", (block.elements || []).map((e) => (e.type === "image"
          ? imageNode(e.image_url, e.alt_text) : textObject(e))));
      case "divider":
        return h("hr", {class: "block-divider"});
      case "actions":
        return wrap("actions", (block.elements || []).map((e, i) => renderElement(e, blockId, actionIdOf(e, i), block, context)));
      case "image":
        return wrap("image", block.title ? h("div", {class: "title"}, plain(block.title)) : null,
          imageNode(block.image_url || (block.slack_file && block.slack_file.url), block.alt_text));
      case "input":
        return renderInput(block, blockId, context);
      case "rich_text":
        return wrap("rich-text", (block.elements || []).map(richText));
      default:
        return wrap("unknown", h("span", {class: "unsupported"}, `[${block.type} block]`));
    }
  }

  function imageNode(url, alt) {
    const href = safeUrl(url || "");
    return href ? h("img", {src: href, alt: alt || "", title: alt || null, loading: "lazy"}) : h("span", {class: "unsupported"}, alt || "[image]");
  }

  function richText(element) {
    const styled = (e) => {
      let node;
      if (e.type === "text") node = document.createTextNode(e.text || "");
      else if (e.type === "link") node = safeUrl(e.url) ? h("a", {href: safeUrl(e.url), target: "_blank", rel: "noopener noreferrer"}, e.text || e.url) : document.createTextNode(e.text || "");
      else if (e.type === "user") node = h("span", {class: "mention"}, "@" + userName(e.user_id));
      else if (e.type === "channel") node = h("span", {class: "channel-link"}, "#" + ((store.dir.channels.get(e.channel_id) || {}).name || e.channel_id));
      else if (e.type === "emoji") node = document.createTextNode(EMOJI[e.name] || `:${e.name}:`);
      else if (e.type === "usergroup") node = h("span", {class: "mention"}, "@" + ((store.dir.groups.get(e.usergroup_id) || {}).handle || e.usergroup_id));
      else node = document.createTextNode("");
      const style = e.style || {};
      if (style.code) node = h("code", {}, node);
      if (style.bold) node = h("strong", {}, node);
      if (style.italic) node = h("em", {}, node);
      if (style.strike) node = h("del", {}, node);
      return node;
    };
    const children = (element.elements || []);
    switch (element.type) {
      case "rich_text_list":
        return h(element.style === "ordered" ? "ol" : "ul", {}, children.map((item) => h("li", {}, richText(item))));
      case "rich_text_preformatted":
        return h("pre", {}, children.map(styled));
      case "rich_text_quote":
        return h("blockquote", {}, children.map(styled));
      default:
        return h("div", {class: "mrkdwn"}, children.map((e) => (e.type && e.type.startsWith("rich_text") ? richText(e) : styled(e))));
    }
  }

  function renderInput(block, blockId, context) {
    const element = block.element || {};
    const actionId = actionIdOf(element, 0);
    const id = `input-${blockId}-${actionId}`;
    const error = h("div", {class: "field-error", "data-testid": `error-${blockId}`, hidden: true});
    const node = h("div", {class: "block input-block", "data-block-id": blockId},
      h("label", {for: id}, plain(block.label), block.optional ? h("span", {class: "optional"}, " (optional)") : null),
      renderElement(element, blockId, actionId, block, context, id),
      block.hint ? h("div", {class: "hint"}, plain(block.hint)) : null,
      error);
    if (context.form) context.form.errorSlots.set(blockId, {error, node});
    return node;
  }

  // Registers how to read a stateful element's value when it sits in a modal.
  function remember(context, blockId, actionId, read) {
    if (context.form) context.form.fields.set(`${blockId}\u0000${actionId}`, {blockId, actionId, read});
  }

  // Whether using an element sends block_actions right away (Slack: everything outside input
  // blocks, and inputs that ask for it with dispatch_action).
  const dispatches = (block) => block.type !== "input" || block.dispatch_action === true;

  function send(context, blockId, actionId, choice = {}) {
    const body = {user: store.me, action_id: actionId, block_id: blockId, ...choice};
    if (context.kind === "view") {
      body.view_id = context.viewId;
      body.values = collectValues(context.form);
    } else {
      body.channel = context.channel;
      body.message_ts = context.ts;
    }
    return api("action", body);
  }

  function renderElement(element, blockId, actionId, block, context, inputId = null) {
    const common = {"data-action-id": actionId, "data-block-id": blockId, id: inputId};
    const live = dispatches(block);
    switch (element.type) {
      case "button": {
        const style = element.style === "primary" ? " primary" : element.style === "danger" ? " danger" : "";
        return h("button", {...common, type: "button", class: `btn${style}`, "data-value": element.value ?? null,
          onclick: async (e) => {
            const button = e.currentTarget;
            if (element.confirm && !(await confirmDialog(element.confirm))) return;
            if (element.url && safeUrl(element.url)) window.open(safeUrl(element.url), "_blank", "noopener");
            button.disabled = true;
            try { await send(context, blockId, actionId); } finally { button.disabled = false; }
          }}, emojify(plain(element.text)));
      }
      case "static_select":
      case "multi_static_select": {
        const multiple = element.type === "multi_static_select";
        const chosen = new Set((multiple ? element.initial_options || [] : [element.initial_option].filter(Boolean)).map((o) => o.value));
        const option = (o) => h("option", {value: o.value, selected: chosen.has(o.value)}, emojify(plain(o.text)));
        const select = h("select", {...common, class: "element", multiple},
          multiple ? null : h("option", {value: "", disabled: true, selected: chosen.size === 0}, plain(element.placeholder) || "Select an option"),
          (element.options || []).map(option),
          (element.option_groups || []).map((g) => h("optgroup", {label: plain(g.label)}, (g.options || []).map(option))));
        const read = () => (multiple ? [...select.selectedOptions].map((o) => o.value) : select.value || null);
        remember(context, blockId, actionId, read);
        if (live) {
          select.addEventListener("change", async () => {
            if (element.confirm && !(await confirmDialog(element.confirm))) return;
            send(context, blockId, actionId, multiple ? {selected: read()} : {value: read()});
          });
        }
        return select;
      }
      case "overflow":
        return h("span", {class: "overflow"},
          h("button", {...common, type: "button", "aria-label": "More", onclick: (e) => popover(e.currentTarget,
            optionsOf(element).map((o) => ({label: plain(o.text), value: o.value, testid: `option-${o.value}`,
              run: async () => {
                if (element.confirm && !(await confirmDialog(element.confirm))) return;
                send(context, blockId, actionId, {value: o.value});
              }})))}, "⋯"));
      case "checkboxes":
      case "radio_buttons": {
        const radio = element.type === "radio_buttons";
        const initial = new Set((radio ? [element.initial_option].filter(Boolean) : element.initial_options || []).map((o) => o.value));
        const group = `${blockId}-${actionId}-${Math.random().toString(36).slice(2)}`;
        const inputs = [];
        const box = h("fieldset", {...common, class: "choices"}, (element.options || []).map((o) => {
          const input = h("input", {type: radio ? "radio" : "checkbox", name: group, value: o.value, checked: initial.has(o.value)});
          inputs.push(input);
          return h("label", {}, input, h("span", {}, textObject(o.text), o.description ? h("div", {class: "description"}, plain(o.description)) : null));
        }));
        const read = () => (radio ? (inputs.find((i) => i.checked) || {}).value || null : inputs.filter((i) => i.checked).map((i) => i.value));
        remember(context, blockId, actionId, read);
        if (live) box.addEventListener("change", () => send(context, blockId, actionId, radio ? {value: read()} : {selected: read()}));
        return box;
      }
      case "datepicker":
      case "timepicker": {
        const input = h("input", {...common, class: "element", type: element.type === "datepicker" ? "date" : "time",
          value: element.initial_date || element.initial_time || null});
        remember(context, blockId, actionId, () => input.value || null);
        if (live) input.addEventListener("change", () => send(context, blockId, actionId, {value: input.value}));
        return input;
      }
      case "plain_text_input":
      case "number_input":
      case "email_text_input":
      case "url_text_input": {
        const number = element.type === "number_input";
        const attrs = {...common, class: "element", placeholder: plain(element.placeholder) || null,
          maxlength: element.max_length || null, minlength: element.min_length || null};
        const input = element.multiline
          ? h("textarea", attrs, element.initial_value || "")
          : h("input", {...attrs, value: element.initial_value ?? null,
            type: number ? "text" : element.type === "email_text_input" ? "email" : element.type === "url_text_input" ? "url" : "text",
            inputmode: number ? (element.is_decimal_allowed ? "decimal" : "numeric") : null,
            "data-min": number ? element.min_value ?? null : null, "data-max": number ? element.max_value ?? null : null});
        remember(context, blockId, actionId, () => input.value);
        if (live && !element.multiline) {
          input.addEventListener("keydown", (e) => {
            if (e.key === "Enter") { e.preventDefault(); send(context, blockId, actionId, {value: input.value}); }
          });
        }
        return input;
      }
      case "image":
        return h("img", {class: "accessory-image", src: safeUrl(element.image_url || "") || null, alt: element.alt_text || ""});
      default:
        return h("span", {class: "unsupported", "data-action-id": actionId}, `[${element.type || "element"}]`);
    }
  }

  function collectValues(form) {
    const values = {};
    if (!form) return values;
    for (const {blockId, actionId, read} of form.fields.values()) {
      (values[blockId] = values[blockId] || {})[actionId] = read();
    }
    return values;
  }

  return {renderBlocks, collectValues};
})();
