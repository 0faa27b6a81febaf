// The offline copy of the verify page (GET /explorer/verify-offline.html, saved as one file): the
// verify page alone, its modules and runprint's core inlined, for use with no server at all.
import { verifyPage } from './verify-page.js';

const main = document.getElementById('main');
verifyPage(main);
main.setAttribute('data-ready', '');
