// The creator invitation page: /invite#<token>. The token stays in the fragment (browsers
// never send it to a server, so no log keeps it); the page asks who invited whom, then
// posts the chosen username and password once.

const token = decodeURIComponent(location.hash.replace(/^#/, ""));
const form = document.getElementById("accept");
const formError = document.getElementById("form-error");
const intro = document.getElementById("intro");
const invalid = document.getElementById("invalid");
const path = `/api/v1/public/invites/${encodeURIComponent(token)}`;

async function start() {
  const response = token ? await fetch(path) : null;
  const data = response ? await response.json().catch(() => null) : null;
  if (!response || !response.ok) {
    intro.textContent = "";
    invalid.textContent = (data && data.error && data.error.message) || "This invitation link is not valid.";
    invalid.hidden = false;
    return;
  }
  document.getElementById("title").textContent = `Join ${data.panel_name} as a creator`;
  intro.textContent = `Invitation for ${data.email}, valid until ${new Date(data.expires_at).toLocaleString()}. Choose how you will sign in.`;
  form.hidden = false;
  form.elements.username.focus();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  formError.textContent = "";
  for (const p of form.querySelectorAll(".field-error")) p.textContent = "";
  const response = await fetch(`${path}/accept`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: form.elements.username.value.trim(), password: form.elements.password.value }),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data && data.error) || {};
    formError.textContent = error.message || `The account could not be created (${response.status}).`;
    for (const [field, message] of Object.entries(error.fields || {})) {
      const slot = form.querySelector(`.field-error[data-for="${field}"]`);
      if (slot) slot.textContent = message;
    }
    return;
  }
  form.hidden = true;
  document.getElementById("done-message").textContent = data.message;
  document.getElementById("done").hidden = false;
});

start().catch((error) => { intro.textContent = error.message; });
