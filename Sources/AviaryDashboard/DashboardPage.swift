/// The dashboard's one page: inline CSS and script, no external assets (it must work on a
/// machine without internet, through an SSH tunnel). The script polls `/api/runs` every second
/// and redraws a selected run's charts when its version changes: no reload, and nothing is
/// fetched again for runs that did not move. Charts arrive as SVG drawn by AviaryReport.
enum DashboardPage {
    static let html = """
    <!DOCTYPE html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <title>Aviary dashboard</title>
    <style>
    body { font-family: sans-serif; margin: 16px 24px; color: #222; }
    h1 { font-size: 20px; margin: 0 0 4px; } .root { color: #666; font-size: 13px; }
    table { border-collapse: collapse; font-size: 13px; margin: 10px 0; }
    th, td { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: right; font-variant-numeric: tabular-nums; }
    th { background: #f4f4f4; } td.t, th.t { text-align: left; } td.exp { max-width: 520px; color: #444; font-size: 12px; }
    tr.selected { background: #eef5ff; } tr:hover { background: #f7f7f7; cursor: pointer; }
    .status { padding: 1px 6px; border-radius: 3px; font-size: 12px; color: #fff; }
    .running { background: #1f77b4; } .completed { background: #2ca02c; } .failed { background: #d62728; } .degraded { background: #ff7f0e; }
    .problem { color: #a33; font-size: 12px; } .message { color: #666; }
    #controls { margin: 6px 0; font-size: 13px; }
    #charts { display: flex; flex-wrap: wrap; gap: 14px; } figure { margin: 0; }
    </style>
    </head>
    <body>
    <h1>Aviary dashboard</h1>
    <div class="root" id="root"></div>
    <div class="message" id="message"></div>
    <table id="runs"><thead><tr><th></th><th class="t">run</th><th class="t">status</th><th class="t">experiment</th>
    <th>round</th><th>accuracy</th><th>robust</th><th class="t">ε</th><th>elapsed</th><th>simulated</th></tr></thead><tbody></tbody></table>
    <div id="controls">x axis of overlays: <label><input type="radio" name="axis" value="round" checked> round</label>
    <label><input type="radio" name="axis" value="simulated"> simulated time</label>
    <span id="selection"></span></div>
    <div class="problem" id="problems"></div>
    <div id="charts" data-version=""></div>
    <script>
    const params = new URLSearchParams(location.search);
    const token = params.get('token');
    const selected = new Set(params.getAll('run'));
    let chosenByUser = selected.size > 0;
    let versions = {};
    let drawn = '';
    function api(path) {
      const url = new URL(path, location.href);
      if (token) url.searchParams.set('token', token);
      return fetch(url, {cache: 'no-store'});
    }
    function esc(s) {
      return String(s).replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
    }
    function num(x, d) { return x === null || x === undefined ? '-' : Number(x).toFixed(d); }
    function duration(s) {
      if (s === null || s === undefined) return '-';
      if (s < 120) return s.toFixed(1) + ' s';
      if (s < 7200) return (s / 60).toFixed(1) + ' min';
      return (s / 3600).toFixed(1) + ' h';
    }
    function axis() { return document.querySelector('input[name=axis]:checked').value; }
    function row(r) {
      const sel = selected.has(r.id);
      const round = r.round === null || r.round === undefined ? '-' : r.round + (r.rounds ? '/' + r.rounds : '');
      const status = r.status + (r.status === 'running' && r.idle_seconds > 300 ? ' (quiet ' + duration(r.idle_seconds) + ')' : '');
      const problems = r.problems.length ? '<div class="problem">' + r.problems.map(esc).join('<br>') + '</div>' : '';
      return '<tr data-id="' + esc(r.id) + '"' + (sel ? ' class="selected"' : '') + '>'
        + '<td><input type="checkbox"' + (sel ? ' checked' : '') + '></td>'
        + '<td class="t">' + esc(r.id) + '</td>'
        + '<td class="t"><span class="status ' + esc(r.status) + '" title="' + esc(r.verdict || '') + '">' + esc(status) + '</span></td>'
        + '<td class="t exp">' + esc(r.experiment) + problems + '</td>'
        + '<td>' + esc(round) + '</td><td>' + num(r.accuracy, 4) + '</td><td>' + num(r.robust_accuracy, 4) + '</td>'
        + '<td class="t">' + esc(r.epsilon || '-') + '</td><td>' + duration(r.elapsed_seconds) + '</td>'
        + '<td>' + (r.simulated_seconds === null || r.simulated_seconds === undefined ? '-' : duration(r.simulated_seconds)) + '</td></tr>';
    }
    async function poll() {
      try {
        const response = await api('api/runs');
        if (response.ok) {
          const list = await response.json();
          document.getElementById('root').textContent = list.root;
          document.getElementById('message').textContent = list.message || '';
          const ids = new Set(list.runs.map(r => r.id));
          for (const id of [...selected]) if (!ids.has(id)) selected.delete(id);
          if (!chosenByUser && selected.size === 0 && list.runs.length > 0) selected.add(list.runs[0].id);
          versions = Object.fromEntries(list.runs.map(r => [r.id, r.version]));
          document.querySelector('#runs tbody').innerHTML = list.runs.map(row).join('');
          await draw();
        }
      } catch (e) {
        document.getElementById('message').textContent = 'dashboard unreachable: ' + e;
      }
      setTimeout(poll, 1000);
    }
    async function draw() {
      const ids = [...selected].sort();
      const key = ids.map(id => id + ':' + versions[id]).join(',') + '|' + axis();
      if (key === drawn) return;
      document.getElementById('selection').textContent = ids.length ? ' · showing ' + ids.join(', ') : '';
      if (ids.length === 0) { document.getElementById('charts').innerHTML = ''; drawn = key; return; }
      const query = ids.map(id => 'run=' + encodeURIComponent(id)).join('&') + '&axis=' + axis();
      const response = await api('api/charts?' + query);
      const body = await response.json();
      const charts = document.getElementById('charts');
      if (!response.ok) {
        document.getElementById('problems').textContent = body.error;
        charts.innerHTML = '';
      } else {
        document.getElementById('problems').innerHTML = body.problems.map(esc).join('<br>');
        charts.innerHTML = body.charts.map(c => '<figure data-title="' + esc(c.title) + '">' + c.svg + '</figure>').join('');
        charts.dataset.version = body.version;
      }
      drawn = key;
    }
    document.querySelector('#runs tbody').addEventListener('click', e => {
      const tr = e.target.closest('tr');
      if (!tr) return;
      const id = tr.dataset.id;
      chosenByUser = true;
      if (e.target.type === 'checkbox' || e.ctrlKey || e.metaKey || e.shiftKey) {
        if (selected.has(id)) selected.delete(id); else selected.add(id);
      } else {
        selected.clear(); selected.add(id);
      }
      for (const r of document.querySelectorAll('#runs tbody tr')) {
        const on = selected.has(r.dataset.id);
        r.classList.toggle('selected', on);
        r.querySelector('input').checked = on;
      }
      draw();
    });
    for (const radio of document.querySelectorAll('input[name=axis]')) radio.addEventListener('change', draw);
    poll();
    </script>
    </body>
    </html>

    """
}
