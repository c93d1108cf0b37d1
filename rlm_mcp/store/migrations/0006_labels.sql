-- Per-record labels analysts submit (submit_findings(labels={dimension: {record: value}})): one value
-- per (job, document, record, dimension). Record numbers are the columnar copy's and the chunks'
-- (CSV data rows, JSON elements, JSONL records, text lines; 1-based). No foreign key to documents:
-- like findings, labels outlive a reload or a removal. query_data exposes them as the `labels` view.
CREATE TABLE labels (
    job_id       INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    task_id      INTEGER REFERENCES tasks(id) ON DELETE CASCADE,
    document_id  INTEGER NOT NULL,
    record       INTEGER NOT NULL,
    dimension    TEXT NOT NULL,
    value        TEXT NOT NULL,
    PRIMARY KEY (job_id, document_id, record, dimension)
) WITHOUT ROWID;
CREATE INDEX labels_document ON labels(document_id, dimension, value);
CREATE INDEX labels_task ON labels(task_id);
