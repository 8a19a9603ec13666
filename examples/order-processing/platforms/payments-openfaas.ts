// The payments function on OpenFaaS (of-watchdog HTTP mode: listens on http_port).
import { openfaas } from '@sidecarless/openfaas';
import { createPaymentsHandler, createPaymentsMesh } from '../functions/payments.ts';

await openfaas(createPaymentsMesh(), createPaymentsHandler()).listen();
