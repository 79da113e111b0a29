# The everyday KMS calls of a Python service, made with boto3 (Debian's python3-boto3) against the
# KMS at $KMS_ENDPOINT in two Regions. Prints one JSON document of what boto3 returned;
# test/kms-proxy/other-clients.test.ts runs it once (one interpreter start) and checks it.
import base64
import json
import os
import sys

import boto3

endpoint = os.environ["KMS_ENDPOINT"]
east = boto3.client("kms", region_name="us-east-1", endpoint_url=endpoint)
west = boto3.client("kms", region_name="eu-west-1", endpoint_url=endpoint)
b64 = lambda b: base64.b64encode(b).decode()
out = {"boto3": boto3.__version__}

key = east.create_key(Description="boto3 key", Tags=[{"TagKey": "client", "TagValue": "boto3"}])["KeyMetadata"]
out["create_key"] = {k: key[k] for k in ("KeyId", "Arn", "KeyState", "Description", "MultiRegion")}
out["create_key"]["CreationDate"] = key["CreationDate"].isoformat()
east.create_alias(AliasName="alias/boto3", TargetKeyId=key["KeyId"])
out["describe_key"] = east.describe_key(KeyId="alias/boto3")["KeyMetadata"]["Arn"]

# Bytes in, bytes out: every byte value, with an encryption context.
plaintext = bytes(range(256))
blob = east.encrypt(KeyId="alias/boto3", Plaintext=plaintext, EncryptionContext={"purpose": "test"})["CiphertextBlob"]
decrypted = east.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "test"})
out["decrypt"] = {"KeyId": decrypted["KeyId"], "same": decrypted["Plaintext"] == plaintext}
data_key = east.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
out["generate_data_key"] = {"length": len(data_key["Plaintext"]), "decrypts": east.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]}

# Pagination: boto3's paginator follows NextMarker while Truncated.
for i in range(4):
    east.create_key(Description=f"boto3 page {i}")
pages = list(east.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2}))
out["list_keys"] = {"pages": len(pages), "truncated": [p["Truncated"] for p in pages], "keys": [k["KeyId"] for p in pages for k in p["Keys"]]}
out["list_aliases"] = [a["AliasName"] for a in east.list_aliases(KeyId=key["KeyId"])["Aliases"]]
east.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "stage", "TagValue": "test"}])
out["list_resource_tags"] = east.list_resource_tags(KeyId=key["KeyId"])["Tags"]

signing = east.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
signature = east.sign(KeyId=signing, Message=b"signed by boto3", MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
out["sign"] = {
    "signature": b64(signature),
    "public_key": b64(east.get_public_key(KeyId=signing)["PublicKey"]),
    "verified": east.verify(KeyId=signing, Message=b"signed by boto3", MessageType="RAW", Signature=signature, SigningAlgorithm="ECDSA_SHA_256")["SignatureValid"],
}

# An error: botocore maps __type to the modeled exception class.
try:
    east.describe_key(KeyId="alias/does-not-exist")
    out["error"] = None
except east.exceptions.NotFoundException as e:
    out["error"] = {"class": type(e).__name__, "code": e.response["Error"]["Code"], "message": e.response["Error"]["Message"], "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}

# A multi-Region key: encrypted in one Region, decrypted with its replica in the other.
mrk = east.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
mrk_blob = east.encrypt(KeyId=mrk, Plaintext=b"across Regions")["CiphertextBlob"]
replica = east.replicate_key(KeyId=mrk, ReplicaRegion="eu-west-1")["ReplicaKeyMetadata"]
out["replicate_key"] = {"Arn": replica["Arn"], "type": replica["MultiRegionConfiguration"]["MultiRegionKeyType"], "primary": replica["MultiRegionConfiguration"]["PrimaryKey"]["Region"]}
out["cross_region_decrypt"] = west.decrypt(CiphertextBlob=mrk_blob)["Plaintext"].decode()

deletion = east.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
out["schedule_key_deletion"] = {"KeyState": deletion["KeyState"], "PendingWindowInDays": deletion["PendingWindowInDays"], "DeletionDate": deletion["DeletionDate"].isoformat()}

json.dump(out, sys.stdout)
