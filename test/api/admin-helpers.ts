/** Helpers for the auth, administration and toolkit API tests. */
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { TestApp } from '../helpers/app.js';

export type Role = 'admin' | 'storekeeper' | 'engineer';

let counter = 0;

/** Create a user through the API (as the admin) and return it with its password. */
export async function createUser(
  t: TestApp,
  adminToken: string,
  role: Role,
  fields: { employee_number?: string; full_name?: string; password?: string } = {},
): Promise<{ id: number; employee_number: string; password: string }> {
  counter += 1;
  const body = {
    employee_number: fields.employee_number ?? `${role}-${process.pid}-${counter}`,
    full_name: fields.full_name ?? `Тестовый ${role} ${counter}`,
    role,
    password: fields.password ?? `password-${counter}-long`,
  };
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: bearer(adminToken), payload: body });
  expect(res.statusCode, res.body).toBe(201);
  return { id: res.json().id, employee_number: body.employee_number, password: body.password };
}

/** Create a user and log in as them. */
export async function userToken(t: TestApp, adminToken: string, role: Role): Promise<{ id: number; token: string; employee_number: string; password: string }> {
  const user = await createUser(t, adminToken, role);
  return { ...user, token: await t.login(user.employee_number, user.password) };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** A 4xx answer in problem+json with the given status (and code, when given). */
export function expectProblem(res: LightMyRequestResponse, status: number, code?: string): void {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toContain('application/problem+json');
  const body = res.json();
  expect(body.status).toBe(status);
  expect(typeof body.detail).toBe('string');
  if (code) expect(body.code).toBe(code);
}
