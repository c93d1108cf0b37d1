-- The demo's questions about tickets.csv that code can answer: query_data runs each as it stands,
-- `{view}` replaced by the table's view (d2). A model sends the same SQL through the tool.

-- name: totals
SELECT count(*) AS tickets, sum(minutes_to_resolve) AS minutes FROM {view};

-- name: statuses
SELECT status, count(*) AS tickets FROM {view} GROUP BY status ORDER BY tickets DESC;

-- name: slowest_teams
SELECT team, count(*) AS tickets, max(minutes_to_resolve) AS slowest FROM {view}
GROUP BY team ORDER BY slowest DESC, team LIMIT 3;
