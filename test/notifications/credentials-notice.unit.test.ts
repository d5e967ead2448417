import { noticeFor } from '../../src/notifications/connection-notices';

/** The mail for ApplicationCredentialsInvalid says which registration failed and what stops working. */
const alert = (setting: 'AUTH_CLIENT_ID' | 'API_CLIENT_ID') =>
  noticeFor(
    {
      type: 'ApplicationCredentialsInvalid',
      clientId: 'c0c0c0c0-0000-4000-8000-0000000090a1',
      setting,
      aadsts: 700212,
      reason: 'refused',
      at: '2026-12-06T05:00:00.000Z',
    },
    'https://portal.example.com/',
  );

test('the sign-in registration refused: connections cannot refresh', () => {
  expect(alert('AUTH_CLIENT_ID').subject).toMatch(/Connections cannot refresh/);
});

test('the API registration refused: user processes stop, connections are not affected', () => {
  const notice = alert('API_CLIENT_ID');
  expect(notice.subject).toMatch(/User processes cannot run/);
  expect(notice.text).toContain('AADSTS700212');
  expect(notice.text).toContain('Connections and system processes are not affected');
});
