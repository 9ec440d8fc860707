import { Type } from 'typebox';
import { EmployeeNumber, Password } from './users.js';

const RefreshToken = Type.String({ minLength: 16, maxLength: 256 });

export const LoginBody = Type.Object(
  {
    employee_number: EmployeeNumber,
    // Any length is checked against the hash; bounded only to cap the work.
    password: Type.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false },
);

export const RefreshBody = Type.Object({ refresh_token: RefreshToken }, { additionalProperties: false });

export const ChangePasswordBody = Type.Object(
  { old_password: Type.String({ minLength: 1, maxLength: 256 }), new_password: Password },
  { additionalProperties: false },
);

export const TokenResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer({ description: 'Seconds the access token is valid' }),
  refresh_token: Type.String({ description: 'Opaque, single use: each refresh returns the next one' }),
  refresh_expires_in: Type.Integer({ description: 'Seconds until the session must log in again' }),
  user: Type.Ref('User'),
});

export const OkResponse = Type.Object({ ok: Type.Literal(true) });
