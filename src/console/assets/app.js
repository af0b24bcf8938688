// Pictor admin console: entry module (skeleton; the pages arrive next).
const main = document.getElementById('main');
main.textContent = 'Pictor console';
