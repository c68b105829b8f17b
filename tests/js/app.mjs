// An app "on the instance": no keys anywhere; the SDK's default chain must find IMDS by itself
// (AWS_EC2_METADATA_SERVICE_ENDPOINT) and the endpoint from AWS_ENDPOINT_URL.
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { S3Client, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";

const [bucket, key] = process.argv.slice(2);
const out = {};
const sts = new STSClient({});
out.arn = (await sts.send(new GetCallerIdentityCommand({}))).Arn;
const s3 = new S3Client({ forcePathStyle: true });
const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
out.body = await got.Body.transformToString();
try {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "from-js", Body: "nope" }));
  out.put = "allowed";
} catch (err) {
  out.put = err.name;
  out.putMessage = err.message;
}
console.log(JSON.stringify(out));
