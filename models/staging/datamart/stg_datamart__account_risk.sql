with

source as (
    select * from {{ source('datamart', 'account_risk') }}
),

renamed as (
    select
        trim(account_id) as account_id,
        risk_score,
        trim(risk_level) as risk_level,
        updated_at,
        coalesce(is_deleted, false) as is_deleted,
        _source_file,
        _record_number,
        _batch_id,
        _ingested_at
    from source
)

select * from renamed
