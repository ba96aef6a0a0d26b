{{
    config(
        unique_key='account_id',
    )
}}

{#-
    One current row per account. Accounts carry no update timestamp, so the last delivery wins
    (batch, then file name, then position in the file): a newer batch always replaces the current
    row, and rows of batches already merged are not read again.
-#}

with

staged as (
    select staged_source.* from {{ ref('stg_invoices__accounts') }} as staged_source
    {{ only_new_batches('staged_source._batch_id') }}
),

latest as (
    {{ latest_arrival('staged', 'account_id', [
        'account_id', 'company_name', 'company_address', 'contact_person', 'contact_phone', 'gender',
        'joining_date',
    ]) }}
)

select * from latest
