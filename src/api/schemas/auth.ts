import { Type } from 'typebox';
import { EmployeeNumber, Password } from './users.js';

/** A refresh token as this service issues them (the cookie's is held to the same bounds). */
export const REFRESH_TOKEN_LENGTH = { min: 16, max: 256 } as const;

export const LoginBody = Type.Object(
  {
    employee_number: EmployeeNumber,
    // Any length is checked against the hash; bounded only to cap the work.
    password: Type.String({ minLength: 1, maxLength: 256 }),
    cookie: Type.Optional(
      Type.Boolean({
        description:
          'Browsers: true to get the refresh token in the HttpOnly cookie toolcontrol_refresh (Path=/auth) instead of the body',
      }),
    ),
  },
  { additionalProperties: false },
);

/** Refresh and logout: the token in the body, or (no body, `{}`) the one in the toolcontrol_refresh cookie. */
export const RefreshBody = Type.Object(
  {
    refresh_token: Type.Optional(
      Type.String({
        minLength: REFRESH_TOKEN_LENGTH.min,
        maxLength: REFRESH_TOKEN_LENGTH.max,
        description: 'Left out: the toolcontrol_refresh cookie is used',
      }),
    ),
  },
  { additionalProperties: false },
);

export const ChangePasswordBody = Type.Object(
  { old_password: Type.String({ minLength: 1, maxLength: 256 }), new_password: Password },
  { additionalProperties: false },
);

export const TokenResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer({ description: 'Seconds the access token is valid' }),
  refresh_token: Type.Optional(
    Type.String({
      description:
        'Opaque, single use: each refresh returns the next one. Absent when the cookie was asked for ' +
        '(login with cookie: true, or a refresh or password change that came with the cookie): it is in toolcontrol_refresh instead',
    }),
  ),
  refresh_expires_in: Type.Integer({ description: 'Seconds until the session must log in again' }),
  user: Type.Ref('User'),
});

export const OkResponse = Type.Object({ ok: Type.Literal(true) });
