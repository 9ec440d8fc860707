import { api, ok, type Toolkit } from './api/client';

/** Every kit (the lists are small: a tool room has tens of kits). */
export async function allKits(): Promise<Toolkit[]> {
  return ok(await api.GET('/api/v1/toolkits', { params: { query: { limit: 500 } } })).items;
}
