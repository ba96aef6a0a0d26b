-- Surfaces quarantined rows as a warning with their count per source and reason, so a run
-- that ingested what it could never hides what it could not. Inspect with:
--   lakehouse query "select source, reason, _source_file, _record_number from bronze.quarantine"
{{ config(severity='warn') }}

select
    source,
    reason,
    count(*) as quarantined_rows
from {{ source('ingestion', 'quarantine') }}
group by source, reason
