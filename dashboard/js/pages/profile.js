// Profile: name, income and currency; password; sessions; API keys; TOTP with a QR
// code; personal data export; account deletion.

import * as api from "../api.js";
import { h, field, form, values, Invalid, notify, section, formatTime } from "../ui.js";
import { qrSvg } from "../qr.js";

export async function page(ctx) {
  const me = await ctx.refreshMe();
  const root = h("div", { class: "stack" }, h("h1", {}, "Profile"));
  root.append(
    profileForm(ctx, me.user),
    passwordForm(),
    await sessionsSection(ctx),
    await apiKeysSection(),
    totpSection(ctx, me.user),
    section(
      "Your data",
      h("p", {}, "Download everything Fairlane holds about you."),
      h("a", { class: "button", href: "/api/v1/me/export", download: "fairlane-export" }, "Download my data"),
    ),
    deleteSection(ctx),
  );
  return root;
}

function profileForm(ctx, user) {
  return section(
    "Account",
    h("p", {}, `${user.number} · ${user.email} · ${user.role}`),
    form(
      { "aria-label": "Account details" },
      [
        field("Name", "name", { value: user.name || "", required: true }),
        field("Monthly income", "monthly_income", { type: "number", min: 0, step: "any", value: user.monthly_income ?? "" }),
        field("Currency", "currency", { maxlength: 3, value: user.currency || "" }),
        h("button", { type: "submit" }, "Save"),
      ],
      async (f) => {
        const v = values(f);
        if (!v.name) throw new Invalid({ name: "Enter your name." });
        if (v.monthly_income && !(Number(v.monthly_income) >= 0))
          throw new Invalid({ monthly_income: "Enter a non-negative amount." });
        const body = { name: v.name, monthly_income: v.monthly_income ? Number(v.monthly_income) : null };
        if (v.currency) body.currency = v.currency.toUpperCase();
        await api.patch("/me", body);
        await ctx.refreshMe();
        notify("Saved.", "ok");
      },
    ),
  );
}

function passwordForm() {
  return section(
    "Password",
    form(
      { "aria-label": "Change password" },
      [
        field("Current password", "current_password", { type: "password", autocomplete: "current-password" }),
        field("New password", "new_password", { type: "password", autocomplete: "new-password" }, "10 to 128 characters. Your other sessions end."),
        h("button", { type: "submit" }, "Change password"),
      ],
      async (f) => {
        const v = values(f);
        const errors = {};
        if (!v.current_password) errors.current_password = "Enter your current password.";
        if (v.new_password.length < 10 || v.new_password.length > 128) errors.new_password = "Use 10 to 128 characters.";
        if (Object.keys(errors).length) throw new Invalid(errors);
        await api.put("/me/password", v);
        f.reset();
        notify("Password changed; other sessions were logged out.", "ok");
      },
    ),
  );
}

async function sessionsSection(ctx) {
  const { sessions } = await api.get("/auth/sessions");
  const list = h(
    "ul",
    { class: "rows", "aria-label": "Sessions" },
    sessions.map((s) =>
      h(
        "li",
        {},
        h("span", {}, `${s.user_agent || "unknown client"} · ${s.ip || ""} · last seen ${formatTime(s.last_seen_at)}`, s.current ? h("strong", {}, " (this device)") : null),
        h(
          "button",
          {
            type: "button",
            class: "secondary",
            onclick: async () => {
              await api.del(`/auth/sessions/${s.id}`);
              if (s.current) {
                ctx.signedOut();
                ctx.go("/login");
              } else ctx.go("/profile");
            },
          },
          s.current ? "Log out this device" : "Log out",
        ),
      ),
    ),
  );
  return section(
    "Sessions",
    list,
    h(
      "button",
      {
        type: "button",
        class: "danger",
        id: "logout-all",
        onclick: async () => {
          await api.del("/auth/sessions");
          ctx.signedOut();
          notify("Logged out on every device.", "ok");
          ctx.go("/login");
        },
      },
      "Log out all devices",
    ),
  );
}

async function apiKeysSection() {
  const { api_keys } = await api.get("/me/api-keys");
  const shown = h("div", { class: "secret", role: "status", hidden: true });
  const list = h("ul", { class: "rows", "aria-label": "API keys" });
  const draw = (keys) =>
    list.replaceChildren(
      ...keys.map((k) =>
        h(
          "li",
          {},
          h("span", {}, `${k.name} · created ${formatTime(k.created_at)} · last used ${formatTime(k.last_used_at)}`),
          h(
            "button",
            {
              type: "button",
              class: "secondary",
              onclick: async () => {
                await api.del(`/me/api-keys/${k.id}`);
                draw((await api.get("/me/api-keys")).api_keys);
              },
            },
            "Revoke",
          ),
        ),
      ),
    );
  draw(api_keys);
  return section(
    "API keys",
    list,
    form(
      { "aria-label": "New API key" },
      [field("Key name", "name", { maxlength: 100 }), h("button", { type: "submit" }, "Create key")],
      async (f) => {
        const v = values(f);
        if (!v.name) throw new Invalid({ name: "Name the key." });
        const created = await api.post("/me/api-keys", { name: v.name });
        shown.hidden = false;
        shown.replaceChildren(
          h("p", {}, "Copy this key now; it is not shown again:"),
          h("code", { class: "api-key" }, created.key),
        );
        f.reset();
        draw((await api.get("/me/api-keys")).api_keys);
      },
    ),
    shown,
  );
}

function totpSection(ctx, user) {
  const box = h("div", {});
  if (user.totp_enabled) {
    box.append(
      h("p", {}, "Two-factor authentication is on."),
      form(
        { "aria-label": "Turn off two-factor authentication" },
        [field("Current code", "code", { inputmode: "numeric" }), h("button", { type: "submit", class: "danger" }, "Turn off")],
        async (f) => {
          const { code } = values(f);
          if (!/^\d{6}$/.test(code)) throw new Invalid({ code: "Enter the 6-digit code." });
          await api.del("/me/totp", { code });
          notify("Two-factor authentication is off.", "ok");
          ctx.go("/profile");
        },
      ),
    );
  } else {
    const start = h(
      "button",
      {
        type: "button",
        onclick: async () => {
          const { secret, otpauth_url } = await api.post("/me/totp");
          start.hidden = true;
          const qr = h("div", { class: "qr", role: "img", "aria-label": "QR code for your authenticator app" });
          qr.innerHTML = qrSvg(otpauth_url);
          box.append(
            h("p", {}, "Scan this code with your authenticator app, or type the secret:"),
            qr,
            h("code", { class: "api-key" }, secret),
            form(
              { "aria-label": "Confirm two-factor authentication" },
              [field("Code from the app", "code", { inputmode: "numeric", autocomplete: "one-time-code" }), h("button", { type: "submit" }, "Confirm")],
              async (f) => {
                const { code } = values(f);
                if (!/^\d{6}$/.test(code)) throw new Invalid({ code: "Enter the 6-digit code." });
                await api.post("/me/totp/confirm", { code });
                notify("Two-factor authentication is on.", "ok");
                ctx.go("/profile");
              },
            ),
          );
        },
      },
      "Set up two-factor authentication",
    );
    box.append(h("p", {}, "Two-factor authentication is off."), start);
  }
  return section("Two-factor authentication", box);
}

function deleteSection(ctx) {
  return section(
    "Delete account",
    form(
      { "aria-label": "Delete account" },
      [
        h("p", {}, "This removes your account, jobs, files and sessions. It cannot be undone."),
        field("Password", "password", { type: "password", autocomplete: "current-password" }),
        h("button", { type: "submit", class: "danger" }, "Delete my account"),
      ],
      async (f) => {
        const { password } = values(f);
        if (!password) throw new Invalid({ password: "Enter your password to confirm." });
        if (!confirm("Delete your account and everything in it?")) return;
        await api.del("/me", { password });
        ctx.signedOut();
        ctx.go("/register");
      },
    ),
  );
}
