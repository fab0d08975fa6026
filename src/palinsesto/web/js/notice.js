// The public notice form: /notice. Posts to /api/v1/public/notices and shows, next to each
// field, what the law requires and the notice lacks; on success, the receipt.

const form = document.getElementById("notice");
const formError = document.getElementById("form-error");
const regime = form.elements.regime;

function showRegime() {
  // DMCA asks for more elements (signature, work, address); DSA does not.
  for (const field of form.querySelectorAll(".dmca")) field.hidden = regime.value !== "dmca";
}

function clearErrors() {
  formError.textContent = "";
  for (const p of form.querySelectorAll(".field-error")) p.textContent = "";
}

function body() {
  const value = (name) => form.elements[name].value.trim();
  const dmca = regime.value === "dmca";
  return {
    regime: regime.value,
    tenant: value("tenant") || null,
    locations: value("locations").split("\n").map((s) => s.trim()).filter(Boolean),
    explanation: value("explanation"),
    work: dmca ? value("work") : "",
    notifier_name: value("notifier_name"),
    notifier_email: value("notifier_email"),
    notifier_address: dmca ? value("notifier_address") : "",
    notifier_phone: dmca ? value("notifier_phone") : "",
    good_faith: form.elements.good_faith.checked,
    accurate: form.elements.good_faith.checked,
    authorised: dmca && form.elements.authorised.checked,
    signature: dmca ? value("signature") : "",
  };
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors();
  const response = await fetch("/api/v1/public/notices", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body()),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data && data.error) || {};
    formError.textContent = error.message || `The notice could not be sent (${response.status}).`;
    for (const [field, message] of Object.entries(error.fields || {})) {
      const slot = form.querySelector(`.field-error[data-for="${field}"]`);
      if (slot) slot.textContent = message;
    }
    return;
  }
  form.hidden = true;
  document.getElementById("receipt-code").textContent = data.receipt;
  document.getElementById("receipt-time").textContent = new Date(data.received_at).toLocaleString();
  document.getElementById("receipt-targets").textContent = data.targets_found
    ? `It names ${data.targets_found} item(s) on this service; the operator will decide and tell you.`
    : "It names nothing we could find on this service; the operator will still read it.";
  document.getElementById("receipt").hidden = false;
});

const service = new URLSearchParams(location.search).get("service");
if (service) form.elements.tenant.value = service;
regime.addEventListener("change", showRegime);
showRegime();
