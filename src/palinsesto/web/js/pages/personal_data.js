// Personal data (GDPR Art. 15 and 17): export everything stored about a line or an admin
// user as a JSON file, or erase it — confirmed by typing the name, as it cannot be undone.

import { api, get } from "../api.js";
import { clear, h, saveBlob, toast } from "../dom.js";
import { dialog, refPicker } from "../form.js";

const SUBJECTS = [
  { key: "line", title: "A line (a viewer)", path: "/lines", label: "username", noun: "line" },
  { key: "user", title: "An admin user", path: "/users", label: "username", noun: "user" },
];

function confirmErase(subject, id, name, onDone) {
  const input = h("input", { id: "erase-confirm", autocomplete: "off", spellcheck: "false" });
  const error = h("p", { class: "form-error", role: "alert" });
  const form = h("form", { class: "form" },
    h("p", {}, `Erasing ends the ${subject.noun}'s plays, replaces its name by a pseudonym everywhere it is stored, and removes its password, notes and contact details. This cannot be undone.`),
    h("div", { class: "field" }, h("label", { for: "erase-confirm" }, `Type ${name} to confirm`), input),
    error, h("div", { class: "buttons" }, h("button", { type: "submit", class: "danger" }, `Erase ${name}`)));
  const dlg = dialog(`Erase the personal data of ${name}`, form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (input.value.trim() !== name) {
      error.textContent = `Type ${name} exactly to confirm.`;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    try {
      const result = await api("POST", `${subject.path}/${id}/erase`);
      dlg.close();
      onDone(result);
    } catch (err) {
      error.textContent = err.message;
    }
  });
}

function subjectCard(subject) {
  const id = `pd-${subject.key}`;
  const picker = refPicker({ name: subject.key, label: subject.title, ref: { path: subject.path, label: subject.label } }, undefined, id, "Choose…");
  const select = picker.input || picker;
  const result = h("div", { role: "status", "aria-live": "polite" });
  const chosen = () => {
    const option = select.selectedOptions[0];
    return select.value ? { id: select.value, name: option.textContent } : null;
  };
  const exportButton = h("button", { type: "button", onclick: async () => {
    const c = chosen();
    if (!c) { toast(`Choose a ${subject.noun} first.`, "error"); return; }
    try {
      const data = await get(`${subject.path}/${c.id}/personal-data`);
      saveBlob(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }), `personal-data-${subject.noun}-${c.name}.json`);
      clear(result, h("p", { class: "notice" }, `Exported the data of ${c.name}: ${Object.keys(data).length} sections${Array.isArray(data.audit) ? `, ${data.audit.length} audit entries` : ""}.`));
    } catch (err) {
      toast(err.message, "error");
    }
  } }, "Export as JSON");
  const eraseButton = h("button", { type: "button", class: "danger", onclick: () => {
    const c = chosen();
    if (!c) { toast(`Choose a ${subject.noun} first.`, "error"); return; }
    confirmErase(subject, c.id, c.name, (done) => {
      clear(result, h("p", { class: "notice" }, `Erased: ${c.name} is now ${done.pseudonym}; ${done.audit_entries_rewritten} audit entries rewritten.`));
      select.selectedOptions[0].textContent = done.pseudonym;
      toast("Personal data erased.");
    });
  } }, "Erase…");
  return h("section", { class: "card", "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, subject.title),
    h("div", { class: "field" }, h("label", { for: id }, subject.noun === "line" ? "Line" : "User"), picker),
    h("div", { class: "buttons" }, exportButton, " ", eraseButton), result);
}

export async function personalDataPage(main) {
  clear(main, h("h1", {}, "Personal data"),
    h("p", { class: "help" }, "Answer a data-subject request: export what is stored about a line or an admin user, or erase it. Both are written to the audit log."),
    SUBJECTS.map(subjectCard));
  return {};
}
