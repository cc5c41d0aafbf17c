// The AWS SDK for JavaScript v3 recipe (run by tests/promotions/test_recipes_tools.py): a multipart
// Upload (lib-storage) and a listing, with the credentials of the environment
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, optional AWS_SESSION_TOKEN).
// usage: node js-upload.mjs <endpoint> <bucket> <key> <file>
import { readFileSync } from "node:fs";
import { S3Client, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

const [endpoint, bucket, key, file] = process.argv.slice(2);
const client = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true });
const upload = new Upload({
  client,
  params: { Bucket: bucket, Key: key, Body: readFileSync(file) },
  partSize: 5 * 1024 * 1024,
  leavePartsOnError: false,
});
await upload.done();
const prefix = key.slice(0, key.lastIndexOf("/") + 1);
const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
console.log(JSON.stringify({ uploaded: key, listed: (listed.Contents ?? []).map((o) => o.Key) }));
