/**
 * A checkout or checkin with its photo, as multipart through XMLHttpRequest: fetch has no
 * upload progress, and a storekeeper should see a large photo going up.
 */
import { ApiError, authHeader, problemOf, type Operation } from './api/client';
import { connection } from './connection.svelte';

export interface OperationInput {
  toolkitId: number;
  type: 'checkout' | 'checkin';
  engineerId?: number;
  photo: File;
}

export async function recordOperation(input: OperationInput, onProgress: (fraction: number) => void): Promise<Operation> {
  const form = new FormData();
  form.append('toolkit_id', String(input.toolkitId));
  form.append('operation_type', input.type);
  if (input.engineerId !== undefined) form.append('engineer_id', String(input.engineerId));
  form.append('image', input.photo, input.photo.name || 'photo.jpg');
  const headers = await authHeader();

  return new Promise<Operation>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/v1/operations');
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.responseType = 'json';
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.upload.onload = () => onProgress(1);
    xhr.onload = () => {
      connection.markReachable();
      if (xhr.status === 201) resolve(xhr.response as Operation);
      else {
        if (xhr.status === 503) connection.markUnavailable();
        reject(problemOf(xhr.status, xhr.response));
      }
    };
    xhr.onerror = () => {
      connection.markUnreachable();
      reject(new ApiError(0, 'network', 'network error'));
    };
    xhr.send(form);
  });
}
