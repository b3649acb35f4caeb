// Register and log-in pages; the login asks for a TOTP code when the server answers
// `totp_required`.

import * as api from "../api.js";
import { h, field, form, values, Invalid, notify } from "../ui.js";

function checkCredentials(v, { register }) {
  const errors = {};
  if (!/^[^\s@]+@[^\s@]+$/.test(v.email)) errors.email = "Enter an email address.";
  if (register && (v.password.length < 10 || v.password.length > 128))
    errors.password = "Use 10 to 128 characters.";
  if (!register && !v.password) errors.password = "Enter your password.";
  if (register && !v.name) errors.name = "Enter your name.";
  if (register && v.monthly_income && !(Number(v.monthly_income) >= 0))
    errors.monthly_income = "Enter a non-negative amount.";
  if (Object.keys(errors).length) throw new Invalid(errors);
}

export async function login(ctx) {
  const totp = field("Authenticator code", "totp_code", {
    inputmode: "numeric",
    autocomplete: "one-time-code",
    pattern: "[0-9]{6}",
  });
  totp.hidden = true;
  const el = form(
    { class: "card narrow", "aria-label": "Log in" },
    [
      h("h1", {}, "Log in"),
      field("Email", "email", { type: "email", autocomplete: "username", required: true }),
      field("Password", "password", { type: "password", autocomplete: "current-password", required: true }),
      totp,
      h("button", { type: "submit" }, "Log in"),
      h("p", {}, "No account? ", h("a", { href: "#/register" }, "Register")),
    ],
    async (f) => {
      const v = values(f);
      checkCredentials(v, { register: false });
      const body = { email: v.email, password: v.password };
      if (!totp.hidden) {
        if (!/^\d{6}$/.test(v.totp_code)) throw new Invalid({ totp_code: "Enter the 6-digit code." });
        body.totp_code = v.totp_code;
      }
      try {
        const answer = await api.post("/auth/login", body, { quiet401: true });
        api.setCsrf(answer.csrf_token);
        await ctx.refreshMe();
        ctx.go("/jobs");
      } catch (error) {
        if (error.code === "totp_required") {
          totp.hidden = false;
          totp.querySelector("input").focus();
          throw new Invalid({ totp_code: "Enter the code from your authenticator app." });
        }
        throw error;
      }
    },
  );
  return el;
}

export async function register(ctx) {
  return form(
    { class: "card narrow", "aria-label": "Register" },
    [
      h("h1", {}, "Create an account"),
      field("Email", "email", { type: "email", autocomplete: "username", required: true }),
      field("Name", "name", { autocomplete: "name", required: true }),
      field("Password", "password", { type: "password", autocomplete: "new-password", required: true }, "10 to 128 characters, not a common one."),
      field("Monthly income (optional)", "monthly_income", { type: "number", min: 0, step: "any" }),
      field("Currency (optional)", "currency", { maxlength: 3, placeholder: "INR" }),
      h("button", { type: "submit" }, "Register"),
      h("p", {}, "Have an account? ", h("a", { href: "#/login" }, "Log in")),
    ],
    async (f) => {
      const v = values(f);
      checkCredentials(v, { register: true });
      const body = { email: v.email, password: v.password, name: v.name };
      if (v.monthly_income) body.monthly_income = Number(v.monthly_income);
      if (v.currency) body.currency = v.currency.toUpperCase();
      await api.post("/auth/register", body);
      const answer = await api.post("/auth/login", { email: v.email, password: v.password }, { quiet401: true });
      api.setCsrf(answer.csrf_token);
      await ctx.refreshMe();
      notify("Welcome to Fairlane.", "ok");
      ctx.go("/jobs");
    },
  );
}
