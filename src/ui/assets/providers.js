// Providers' health (`/admin/providers`): each deployment's state, cooldown and
// recent error rate, as the router sees them now.

import { api, errorLine, h, table, when } from './dom.js';

export async function render(root) {
  const out = h('div', { id: 'providers' });
  const err = errorLine();
  async function reload() {
    try {
      const r = await api('GET', 'providers');
      err.textContent = '';
      out.replaceChildren(...r.data.map((p) => h('section', { 'data-provider': p.provider },
        h('h2', {}, p.provider),
        table('deployments-' + p.provider, ['Deployment', 'Host', 'Weight', 'Models', 'Health', 'Cooldown until', 'Cooldowns', 'Recent calls', 'Error rate'],
          h('tbody', {}, p.deployments.map((d) => h('tr', { 'data-deployment': d.name, 'data-health': d.health },
            h('td', {}, d.name), h('td', {}, h('code', {}, d.host)), h('td', {}, d.weight),
            h('td', {}, d.models ? d.models.join(', ') : 'all'),
            h('td', { class: 'health-' + d.health, 'data-col': 'health' }, d.health.replace('_', ' ')),
            h('td', {}, when(d.cooldown_until)), h('td', {}, d.cooldowns), h('td', { 'data-col': 'recent' }, d.recent_requests),
            h('td', { 'data-col': 'error-rate' }, `${Math.round(d.recent_error_rate * 1000) / 10} %`))))))));
      if (!r.data.length) out.append(h('p', { class: 'hint' }, 'No provider has a deployment configured.'));
    } catch (x) { err.textContent = x.message; }
  }
  root.append(h('h1', {}, "Providers' health"),
    h('button', { type: 'button', class: 'secondary', id: 'refresh-providers', onclick: reload }, 'Refresh'), err, out);
  await reload();
}
