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
        {{ change_extract_lineage() }}
    from source
)

select * from renamed
