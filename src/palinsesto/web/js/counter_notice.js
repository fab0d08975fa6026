// The public counter-notice form: /counter-notice. Posts to /api/v1/public/counter-notices and
// shows, next to each field, what the law requires and the objection lacks; on success, the
// receipt and the date the restriction is lifted unless the notifier goes to court.

const form = document.getElementById("counter");
const formError = document.getElementById("form-error");

function clearErrors() {
  formError.textContent = "";
  for (const p of form.querySelectorAll(".field-error")) p.textContent = "";
}

function body() {
  const value = (name) => form.elements[name].value.trim();
  return {
    reference: value("reference"),
    explanation: value("explanation"),
    name: value("name"),
    email: value("email"),
    address: value("address"),
    phone: value("phone"),
    good_faith: form.elements.good_faith.checked,
    consent_jurisdiction: form.elements.consent_jurisdiction.checked,
    signature: value("signature"),
  };
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors();
  const response = await fetch("/api/v1/public/counter-notices", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body()),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data && data.error) || {};
    formError.textContent = error.message || `The counter-notice could not be sent (${response.status}).`;
    for (const [field, message] of Object.entries(error.fields || {})) {
      const slot = form.querySelector(`.field-error[data-for="${field}"]`);
      if (slot) slot.textContent = message;
    }
    return;
  }
  form.hidden = true;
  document.getElementById("receipt-code").textContent = data.receipt;
  document.getElementById("receipt-time").textContent = new Date(data.received_at).toLocaleString();
  document.getElementById("receipt-due").textContent = new Date(data.restore_due_at).toLocaleString();
  document.getElementById("receipt").hidden = false;
});

const reference = new URLSearchParams(location.search).get("reference");
if (reference) form.elements.reference.value = reference;
