import { runProgram } from './program';
import { buildProgram } from './tree';

/** `npx pa-data <command>` and the `npm run db:*` aliases of package.json start here, through cli/launch.js. */
void runProgram(buildProgram(), process.argv.slice(2), ['OWNER_PASSWORD', 'S3_ADMIN_SECRET_KEY', 'S3_SECRET_KEY', 'S3_BACKUP_SECRET_KEY']);
