// The public sign-up page: /signup. Reads the mode and starting plan from GET /api/v1/signup
// (404 = sign-up is off), posts the form to POST /api/v1/signup and shows, next to each
// field, what the server refused; on success, whether the panel is ready or awaits approval.

const form = document.getElementById("signup");
const formError = document.getElementById("form-error");

function limit(value, noun) {
  return value === null ? `unlimited ${noun}` : `${value} ${noun}`;
}

function describe(info) {
  const p = info.plan;
  const parts = [
    limit(p.max_channels, "channels"),
    limit(p.max_lines, "lines"),
    limit(p.max_viewers, "concurrent viewers"),
  ];
  const trial = p.trial_days ? ` Free for ${p.trial_days} days.` : "";
  const approval = info.mode === "approval" ? " New panels are approved by the platform." : "";
  return `Your panel starts on the “${p.name}” plan: ${parts.join(", ")}.${trial}${approval}`;
}

function clearErrors() {
  formError.textContent = "";
  for (const p of form.querySelectorAll(".field-error")) p.textContent = "";
}

async function start() {
  const response = await fetch("/api/v1/signup");
  if (!response.ok) {
    document.getElementById("closed").hidden = false;
    return;
  }
  document.getElementById("plan").textContent = describe(await response.json());
  form.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors();
  const value = (name) => form.elements[name].value.trim();
  const response = await fetch("/api/v1/signup", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      panel_name: value("panel_name"),
      slug: value("slug"),
      email: value("email"),
      username: value("username"),
      password: form.elements.password.value,
    }),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data && data.error) || {};
    formError.textContent = error.message || `The panel could not be created (${response.status}).`;
    for (const [field, message] of Object.entries(error.fields || {})) {
      const slot = form.querySelector(`.field-error[data-for="${field}"]`);
      if (slot) slot.textContent = message;
    }
    return;
  }
  form.hidden = true;
  document.getElementById("done-message").textContent = data.message;
  document.getElementById("done-link").hidden = data.status !== "active";
  document.getElementById("done").hidden = false;
});

start();
