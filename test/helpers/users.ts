import type { TestApp } from './app.js';

/** Create a user through the admin API and log them in. */
export async function createUser(t: TestApp, adminToken: string, role: 'engineer' | 'storekeeper' | 'admin', employeeNumber: string) {
  const password = `${employeeNumber}-password`;
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/users',
    headers: { authorization: `Bearer ${adminToken}` },
    payload: { employee_number: employeeNumber, full_name: `Test ${role} ${employeeNumber}`, role, password },
  });
  if (res.statusCode !== 201) throw new Error(`create user failed: ${res.statusCode} ${res.body}`);
  const token = await t.login(employeeNumber, password);
  return { id: res.json().id as number, token, auth: { authorization: `Bearer ${token}` } };
}
