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
        {{ change_extract_lineage() }}
    from source
)

select * from renamed
