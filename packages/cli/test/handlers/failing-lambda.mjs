// Lambda handlers that fail the ways functions do: too slow for their timeout, or broken at init.
if (process.env.FAIL_AT_INIT === '1') throw new Error('DATABASE_URL is not set');
if (process.env.FAIL_AT_INIT === 'import') await import('a-package-that-is-not-installed');

export const slow = async () => {
  await new Promise((resolve) => setTimeout(resolve, 30_000));
  return { statusCode: 200 };
};

export const logsThenThrows = async (_event, context) => {
  console.log('starting', context.awsRequestId);
  throw Object.assign(new Error('payment declined'), { name: 'PaymentError' });
};

export const callback = (event, _context, done) => {
  setTimeout(() => done(null, { records: event.Records.length }), 5);
};
