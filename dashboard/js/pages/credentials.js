// Broker credentials: set, replace or remove; shows whether they are configured, never
// the secret.

import * as api from "../api.js";
import { h, field, form, values, Invalid, notify, formatTime } from "../ui.js";

export async function page(ctx) {
  const me = await ctx.refreshMe();
  const { configured, updated_at } = me.credentials;
  const status = h(
    "p",
    { id: "credentials-status", role: "status" },
    configured ? `Configured (updated ${formatTime(updated_at)}).` : "Not configured.",
  );
  return h(
    "div",
    { class: "stack" },
    h("h1", {}, "Broker credentials"),
    h(
      "section",
      { class: "card", "aria-label": "Broker credentials" },
      status,
      h("p", { class: "hint" }, "Kite Connect API key and access token. They are stored encrypted and never shown again."),
      form(
        { "aria-label": configured ? "Replace credentials" : "Store credentials" },
        [
          field("API key", "api_key", { autocomplete: "off" }),
          field("Access token", "access_token", { type: "password", autocomplete: "off" }),
          h("button", { type: "submit" }, configured ? "Replace" : "Save"),
        ],
        async (f) => {
          const v = values(f);
          const errors = {};
          for (const name of ["api_key", "access_token"]) {
            if (!v[name]) errors[name] = "Required.";
            else if (/\s/.test(v[name]) || v[name].length > 256) errors[name] = "1 to 256 characters without spaces.";
          }
          if (Object.keys(errors).length) throw new Invalid(errors);
          await api.put("/me/credentials", v);
          notify("Credentials saved.", "ok");
          ctx.go("/credentials");
        },
      ),
      configured
        ? h(
            "button",
            {
              type: "button",
              class: "danger",
              onclick: async () => {
                await api.del("/me/credentials");
                notify("Credentials removed.", "ok");
                ctx.go("/credentials");
              },
            },
            "Remove credentials",
          )
        : null,
    ),
  );
}
