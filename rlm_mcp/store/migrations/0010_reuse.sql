-- Reuse of analysts' work across jobs (create_job(reuse=)). A level-0 task's work key is a sha256 over
-- what determines its work: its chunks' text, context and record numbers (a projected task: its
-- records' digest, the job's columns and where), the normalized question, the analyst, the job's
-- dimensions and the version of the analyst instructions. A new task whose key matches a done task is
-- born done with a copy of that task's results; reused_from_task names where they came from (no FK:
-- the source job may be pruned by `rlm-mcp gc`, the copy stays whole).
ALTER TABLE tasks ADD COLUMN work_key TEXT;
ALTER TABLE tasks ADD COLUMN reused_from_task INTEGER;
ALTER TABLE tasks ADD COLUMN reused_from_job INTEGER;
CREATE INDEX tasks_work_key ON tasks(work_key) WHERE state = 'done';
CREATE INDEX tasks_reused_from_job ON tasks(reused_from_job) WHERE reused_from_job IS NOT NULL;
