/** Whether the server can be reached: drives the offline / unavailable banner. */
const state = $state({ offline: false, unavailable: false });

export const connection = {
  get offline() {
    return state.offline;
  },
  get unavailable() {
    return state.unavailable;
  },
  markUnreachable() {
    state.offline = true;
  },
  markUnavailable() {
    state.unavailable = true;
  },
  markReachable() {
    state.offline = false;
    state.unavailable = false;
  },
};

if (typeof window !== 'undefined') {
  window.addEventListener('offline', () => connection.markUnreachable());
  window.addEventListener('online', () => connection.markReachable());
}
