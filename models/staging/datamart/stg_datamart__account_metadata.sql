with

source as (
    select * from {{ source('datamart', 'account_metadata') }}
),

renamed as (
    select
        trim(account_id) as account_id,
        trim(industry) as industry,
        trim(tier) as tier,
        trim(kyc_status) as kyc_status,
        updated_at,
        coalesce(is_deleted, false) as is_deleted,
        _source_file,
        _record_number,
        _batch_id,
        _ingested_at
    from source
)

select * from renamed
