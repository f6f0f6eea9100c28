#!/bin/sh
# azd postprovision (and predeploy): bring the schema to this code's head (`hunter migrate`) and give
# the app's managed identity its least-privilege database role (CONNECT, schema USAGE, DML; no DDL,
# not an administrator), signed in as the server's Entra administrator: the deployer, through the
# Azure CLI's token (HUNTER_DATABASE_AUTH=entra). Idempotent: running it again changes nothing.
#
# The server's firewall admits Azure services only, so this machine's address is allowed for the
# duration of the hook and removed after (HUNTER_SKIP_FIREWALL=true when deploying from inside the
# network, e.g. a self-hosted runner in the VNet).
set -eu
: "${AZURE_RESOURCE_GROUP:?azd sets it}"
: "${POSTGRES_SERVER_NAME:?run azd provision first}"
: "${POSTGRES_HOST:?run azd provision first}"
: "${POSTGRES_DATABASE:?run azd provision first}"
: "${MANAGED_IDENTITY_NAME:?run azd provision first}"
: "${MANAGED_IDENTITY_PRINCIPAL_ID:?run azd provision first}"
: "${AZURE_PRINCIPAL_NAME:?the preprovision hook sets it}"
cd "$(dirname "$0")/../.."

# A Python with Hunter's locked requirements: the development venv, else a deploy venv.
if [ -x .venv/bin/python ]; then
  py=.venv/bin/python
else
  if [ ! -x .venv-deploy/bin/python ]; then
    python3 -m venv .venv-deploy
    .venv-deploy/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.txt
  fi
  py=.venv-deploy/bin/python
fi

if [ "${HUNTER_SKIP_FIREWALL:-false}" != "true" ]; then
  ip=${HUNTER_DEPLOYER_IP:-$(curl -fsS https://api.ipify.org)}  # this machine's public address
  rule=azd-deployer
  az postgres flexible-server firewall-rule create -g "$AZURE_RESOURCE_GROUP" -n "$POSTGRES_SERVER_NAME" \
    -r "$rule" --start-ip-address "$ip" --end-ip-address "$ip" -o none
  trap 'az postgres flexible-server firewall-rule delete -g "$AZURE_RESOURCE_GROUP" -n "$POSTGRES_SERVER_NAME" -r "$rule" --yes -o none' EXIT
fi

user=$("$py" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$AZURE_PRINCIPAL_NAME")
HUNTER_DATABASE_AUTH=entra \
HUNTER_DATABASE_URL="postgresql+pg8000://${user}@${POSTGRES_HOST}:5432/${POSTGRES_DATABASE}?sslmode=require" \
  "$py" -m shared migrate --create-app-role "$MANAGED_IDENTITY_NAME" --object-id "$MANAGED_IDENTITY_PRINCIPAL_ID"
