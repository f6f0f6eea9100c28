#!/bin/sh
# azd preprovision. The PostgreSQL Entra administrator is the account that deploys: azd passes its
# object id (AZURE_PRINCIPAL_ID); its name comes from the Azure CLI and is kept in the azd
# environment (AZURE_PRINCIPAL_NAME). A service principal or a group: set AZURE_PRINCIPAL_NAME and
# AZURE_PRINCIPAL_TYPE (ServicePrincipal, Group) yourself with `azd env set`.
# A Fernet key for the token cache is made once per environment unless HUNTER_TOKEN_CACHE_KEY is set
# (it goes to Key Vault; keep it: a new key makes the stored sign-ins unreadable).
set -eu

if [ -z "${AZURE_PRINCIPAL_NAME:-}" ]; then
  if [ "${AZURE_PRINCIPAL_TYPE:-User}" != "User" ]; then
    echo "preprovision: set AZURE_PRINCIPAL_NAME (azd env set AZURE_PRINCIPAL_NAME <name>) for a ${AZURE_PRINCIPAL_TYPE}" >&2
    exit 1
  fi
  name=$(az ad signed-in-user show --query userPrincipalName -o tsv)
  [ -n "$name" ] || { echo "preprovision: az login first (the Azure CLI names the PostgreSQL administrator)" >&2; exit 1; }
  azd env set AZURE_PRINCIPAL_NAME "$name"
fi

if [ -z "${HUNTER_TOKEN_CACHE_KEY:-}" ]; then
  key=$(python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')
  azd env set HUNTER_TOKEN_CACHE_KEY "$key"
fi
