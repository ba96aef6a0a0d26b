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

latest as (
    {{ latest_version_per_key(ref('stg_invoices__accounts'), 'account_id') }}
)

select * from latest
