// A new tenant has nobody who can sign in to it yet: right after creating one, the panel
// offers to add its owner (an owner user of that tenant) in the same breath.

import { api } from "../api.js";
import { h, toast } from "../dom.js";
import { dialog, fieldsFromSchema, renderForm } from "../form.js";
import { has, requestSchema } from "../openapi.js";

export function offerOwner(tenant) {
  if (!tenant || !has("/users", "post")) return;
  const schema = requestSchema("/users", "post");
  const wanted = ["username", "password", "email"].filter((name) => schema.properties[name]);
  const props = Object.fromEntries(wanted.map((name) => [name, schema.properties[name]]));
  const required = (schema.required || []).filter((name) => wanted.includes(name));
  const fields = fieldsFromSchema({ ...schema, properties: props, required }, {
    username: { label: "Owner's user name", help: "The person who runs this service signs in with it." },
  });
  const dlg = dialog(`Add the owner of ${tenant.name}`,
    h("p", {}, `${tenant.name} has nobody who can sign in yet. Add its owner now, or later from Resellers & users.`),
    renderForm({ fields, submitLabel: "Add owner", onSubmit: async (values) => {
      await api("POST", "/users", { json: { ...values, role: "owner", tenant_id: tenant.id } });
      dlg.close();
      toast(`Owner ${values.username} added to ${tenant.name}.`);
    } }));
}
